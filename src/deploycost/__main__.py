from deploycost.cli.app import main

main()
