from qscore import create_app
from qscore.serving import settle

app = settle(create_app())
