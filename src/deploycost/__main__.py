from deploycost.cli.entry import main

main()
