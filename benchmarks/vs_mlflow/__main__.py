from benchmarks.vs_mlflow.harness import main

main()
