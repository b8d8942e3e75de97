import ArgumentParser
import AsyncHTTPClient
print("warm")
