from recommender_engine.cli import main

main()
