from qscore import create_app
app = create_app()
