CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    country TEXT NOT NULL
);

CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    total_cents INTEGER NOT NULL,
    placed_at TIMESTAMP NOT NULL
);

SELECT c.country, COUNT(o.id) AS order_count, SUM(o.total_cents) AS revenue
FROM customers AS c
JOIN orders AS o ON o.customer_id = c.
