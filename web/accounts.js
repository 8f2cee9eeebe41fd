// The accounts page (#accounts): not built yet; its section in index.html says what it is for.
