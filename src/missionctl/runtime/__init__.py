"""The agent runtime: turns, orchestration and assignment (see DESIGN, "Agents at work")."""
