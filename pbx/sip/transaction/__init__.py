"""RFC 3261 §17 transactions: four state machines and the layer that matches and drives them."""
