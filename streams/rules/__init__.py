"""Business rules of docs/domain.md as pure functions: bands and letters, grade identity, fingerprints."""
