from . import edge_sync
from . import home
