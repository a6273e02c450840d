"""End-to-end flows over HTTP, as the people who use the system go through them."""
