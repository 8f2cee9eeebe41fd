// The requests page (#requests): not built yet; its section in index.html says what it is for.
