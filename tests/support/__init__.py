"""What the tests share: the corpus, private servers, the Procfile stack, a client's requests,
jobs put in a state, a browser; bench/ uses the same. Test files import from here only."""
