use std::env;
use std::process;

struct Config {
    query: String,
    path: String,
    ignore_case: bool,
}

impl Config {
    fn build(mut args: impl Iterator<Item = String>) -> Result<Config, &'static str> {
        args.next();
        let query = args.next().ok_or("missing query")?;
        let path = args.next().ok_or("missing path")?;
        let ignore_case = env::var("IGNORE_CASE").is_ok();
        Ok(Config { query, path, ignore_case })
    }
}

fn main() {
    let config = Config::build(env::args()).unwrap_or_else(|err| {
        eprintln!("problem parsing arguments: {err}");
        process::
