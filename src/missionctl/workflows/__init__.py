"""Workflows: versioned graphs of agent, model, tool and human steps, on schedules and triggers."""
