"""The loop: engagement events, experiments between variants, and the learned score."""
