"""A realistic college sent through the real ingress, and a summary of what the system made of it."""
