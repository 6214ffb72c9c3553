from zkdl.cli import main

main()
