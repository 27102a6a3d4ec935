from kbtrans.cli import main

main()
