"""python -m classify [train] --arch ... | python -m classify evaluate ..."""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

if __name__ == "__main__":
    argv = sys.argv[1:]
    if argv[:1] == ["evaluate"]:
        from classify.evaluate import main

        sys.exit(main(argv[1:]))
    from classify.train import main

    sys.exit(main(argv[1:] if argv[:1] == ["train"] else argv))
