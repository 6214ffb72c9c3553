from zkdl.cli import main

if __name__ == "__main__":  # not when a spawn/forkserver worker (zkdl audit) re-imports the main module
    main()
