import java.util.Properties;

public final class Settings {
    private static volatile Settings instance;
    private final Properties properties = new Properties();

    private Settings() {
        properties.setProperty("timeout", "30");
        properties.setProperty("retries", "3");
    }

    public static Settings getInstance() {
        if (instance == null) {
            synchronized (Settings.class) {
                if (instance == null) {
                    instance = new Settings();
                }
            }
        }
        return
