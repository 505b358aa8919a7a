"""The committed sample district (Yantian-like) and the generator that writes it."""
