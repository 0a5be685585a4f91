"""One Chalice blueprint per handler; `http` is the edge they share."""
