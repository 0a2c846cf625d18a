"""AllyProof: WCAG violation monitoring for agencies."""
