"""Who is calling: roles, signed tokens, password hashes, and login."""
