"""VIX: CBOE daily index history (API) and CBOE/FRED CSV files (offline)."""
