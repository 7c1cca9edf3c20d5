from emoscope.apps.cli import main

main()
