from emoscope.cli import main

main()
