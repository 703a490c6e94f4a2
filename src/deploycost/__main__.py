from deploycost.cli import app

app(prog_name="deploycost")
