from . import edge_sync
