"""python -m gradsim"""

from .cli import main

main()
