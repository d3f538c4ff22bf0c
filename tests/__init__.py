from . import test_allowlist
from . import test_settings
from . import test_ui
from . import test_mail_tls_smtp
from . import test_mail_tls_fetchmail
from . import test_mail_queue
from . import test_mail_tls_cron
