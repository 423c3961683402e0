"""Real-time personalization: events → profiles → ranking features; collaborative filtering."""
