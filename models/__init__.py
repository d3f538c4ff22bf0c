from . import ir_config_parameter
from . import perimeter_allowlist
from . import res_config_settings
from . import perimeter_rpc_caller
from . import perimeter_connected_system
from . import res_users_system_fence
