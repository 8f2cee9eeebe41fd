// The review page (#review): not built yet; its section in index.html says what it is for.
