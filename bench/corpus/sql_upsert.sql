CREATE TABLE page_views (
    page TEXT PRIMARY KEY,
    views INTEGER NOT NULL DEFAULT 0,
    last_seen TIMESTAMP
);

INSERT INTO page_views (page, views, last_seen)
VALUES ('/home', 1, CURRENT_TIMESTAMP)
ON CONFLICT (page) DO UPDATE
SET views = page_views.views + 1,
    last_seen =
