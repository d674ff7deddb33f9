import java.util.List;
import java.util.stream.Collectors;

public class Orders {
    record Order(String customer, double amount, boolean paid) {}

    static List<String> bigUnpaidCustomers(List<Order> orders, double threshold) {
        return orders.stream()
            .filter(order -> !order.paid())
            .filter(order -> order.amount() > threshold)
            .map(Order::customer)
            .distinct()
            .sorted()
            .collect(Collectors.
