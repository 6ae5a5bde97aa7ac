"""Mail through an outbox: render (messages), queue in the caller's transaction (outbox),
deliver over SMTP or to .eml files (sender, transport), keep delivering (worker, cli)."""
