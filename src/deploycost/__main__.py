from deploycost.cli.app import app

app(prog_name="deploycost")
