"""The registered environments: one module each, all thin subclasses of :class:`memenv.env.MemoryEnv`."""
