"""History for dashboards: listing, filters, cursors, ETags and stats."""
