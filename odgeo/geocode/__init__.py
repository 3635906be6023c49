"""The offline geocoder: address parsing, the reference index, the matching ladder, and the opt-in online services."""
