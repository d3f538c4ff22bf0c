from . import ir_config_parameter
from . import perimeter_allowlist
from . import res_config_settings
from . import mail_tls
from . import ir_mail_server
from . import fetchmail_server
from . import mail_mail
