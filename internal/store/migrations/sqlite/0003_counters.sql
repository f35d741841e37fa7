-- Fixed-window counters for rate limits, back-off and SMS budgets when
-- several instances share the database (no Redis). One upsert per count.
CREATE TABLE counters (
    key        TEXT PRIMARY KEY,
    count      BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
