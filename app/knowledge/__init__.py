"""What copy is written from: brand kits (versioned), the product catalog, audiences."""
