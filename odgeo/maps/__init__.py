"""Maps: the self-contained HTML page (Leaflet), its layers and legend, and the static PNG."""
