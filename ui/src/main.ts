import { mount } from "svelte";
import App from "./App.svelte";
import { tauriBackend } from "./lib/backend";
import "./app.css";

const target = document.getElementById("app");
if (!target) throw new Error("the page has no #app element");

const backend = await tauriBackend();
export default mount(App, { target, props: { backend } });
