from movies_db.cli import main

main()
