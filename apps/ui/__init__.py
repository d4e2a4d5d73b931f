"""The Streamlit app's parts: state (cached service, session), sidebar, one module per tab, rendering."""
