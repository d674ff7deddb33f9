WITH monthly AS (
    SELECT employee_id,
           DATE_TRUNC('month', sold_at) AS month,
           SUM(amount) AS total
    FROM sales
    GROUP BY employee_id, DATE_TRUNC('month', sold_at)
)
SELECT employee_id,
       month,
       total,
       RANK() OVER (PARTITION BY month ORDER BY total DESC) AS position
FROM monthly
WHERE total > 0
ORDER BY month,
