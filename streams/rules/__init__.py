"""Business rules from domain.md as pure functions: bands and letters, grade identity, fingerprints."""
